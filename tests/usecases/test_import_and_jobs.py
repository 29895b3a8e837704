"""The use-case layer on its own: one progress protocol (a cancel stops an import before it writes)
and the one job refresh loop (an unreachable backend does not hide the other jobs)."""
from __future__ import annotations

import pytest
from support.synthetic_datasets import write_parts

from core.progress import Cancelled, Reporter


def test_import_reports_progress_and_a_cancel_writes_nothing(tmp_path):
    from core.store.project import open_project
    from core.store.queries import count_images
    from usecases.dataset_import import import_dataset

    write_parts(tmp_path / "data", n=8)
    seen = []
    outcome = import_dataset(tmp_path / "a.db", tmp_path / "data", user="ann",
                             progress=Reporter(lambda d, t, m: seen.append((d, t, m))))
    assert outcome.format == "imagefolder" and outcome.report.new == 8
    assert ("scanning" in seen[0][2] and seen[-1][:2] == (8, 8) and seen[-1][2] == "writing the project 8/8")

    def cancel_at_the_first_image(done, _total, _message):
        if done:
            progress.cancel()

    progress = Reporter(cancel_at_the_first_image)
    with pytest.raises(Cancelled):
        import_dataset(tmp_path / "b.db", tmp_path / "data", progress=progress)
    with open_project(tmp_path / "b.db") as p, p.session() as s:
        assert count_images(s) == 0


def test_refresh_jobs_keeps_going_past_a_job_it_cannot_ask(tmp_path, capsys):
    from app.cli import main
    from core.store.jobs import create_job, update_job
    from core.store.project import open_project
    from usecases.job_monitor import refresh_jobs

    with open_project(tmp_path / "p.db") as project:
        with project.session() as s:
            lost = create_job(s, backend="slurm", state="running", workdir=str(tmp_path))
            update_job(s, lost.id, external_id="4242")  # its stored profile is missing: the backend cannot be asked
            done = create_job(s, backend="local", state="succeeded")
        got = refresh_jobs(project)
    assert [(j.id, j.state) for j, _ in got] == [(done.id, "succeeded"), (lost.id, "running")]
    assert got[0][1] is None and "no stored backend profile" in got[1][1]
    assert main(["jobs", "--db", str(tmp_path / "p.db")]) == 0
    out, err = capsys.readouterr()
    assert f"inspector: job {lost.id}: job {lost.id} has no stored backend profile" in err
    assert out.count("\n") == 3  # the header and both jobs
