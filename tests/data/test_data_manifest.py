"""CSV manifests: delimiters, columns, paths, and every malformed case naming its row."""
from __future__ import annotations

import csv
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.data.manifest import ManifestError, read_manifest
from core.data.scan import scan_dataset
from core.errors import InspectorError


@pytest.fixture
def images(tmp_path, write_image):
    write_image(tmp_path / "imgs" / "a.png")
    write_image(tmp_path / "imgs" / "b.png", seed=1)
    write_image(tmp_path / "imgs" / "sub" / "Ölfleck 東京.png", seed=2)
    return tmp_path


def _manifest(folder, text, name="m.csv"):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(images, delim):
    rows = [["path", "label", "split"], ["imgs/a.png", "scratch", "train"],
            ["imgs/b.png", "3", "valid"], ["imgs/sub/Ölfleck 東京.png", "", ""]]
    m = _manifest(images, "\n".join(delim.join(r) for r in rows) + "\n")
    res = scan_dataset(m)
    assert res.format == "csv" and res.root == images
    got = {im.rel_path: (im.label, im.split, im.error) for im in res.images}
    assert got == {"imgs/a.png": ("scratch", "train", None), "imgs/b.png": ("3", "val", None),
                   "imgs/sub/Ölfleck 東京.png": (None, None, None)}
    assert res.class_names == ["3", "scratch"]


def test_tsv_with_bom_and_named_columns(images):
    m = images / "list.tsv"
    m.write_bytes("\ufeffImage File\tDefect Type\tFold\nimgs/a.png\tcrack\ttest\n".encode())
    res = scan_dataset(m, path_column="image file", label_column="Defect Type", split_column="Fold")
    assert [(im.rel_path, im.label, im.split) for im in res.images] == [("imgs/a.png", "crack", "test")]


def test_default_column_names_and_unlabeled_import(images):
    m = _manifest(images, "Filename,Class\nimgs/a.png,good\n")
    assert scan_dataset(m).images[0].label == "good"
    m = _manifest(images, "file,notes\nimgs/a.png,hello\n")
    res = scan_dataset(m, label_column="")
    assert res.images[0].label is None and res.class_names == []


def test_paths_relative_to_root_and_absolute_inside_root(images):
    lists = images / "lists"
    lists.mkdir()
    m = _manifest(lists, f"path,label\nimgs/a.png,x\n{images / 'imgs' / 'b.png'},y\n")
    res = scan_dataset(m, root=images)
    assert res.root == images
    assert [im.rel_path for im in res.images] == ["imgs/a.png", "imgs/b.png"]


def test_dot_segments_inside_the_root_are_normalised(images):
    m = _manifest(images, "path,label\nimgs/sub/../a.png,x\n./imgs/b.png,y\n")
    assert [im.rel_path for im in scan_dataset(m).images] == ["imgs/a.png", "imgs/b.png"]


def test_bad_images_in_a_manifest_are_recorded(images):
    (images / "imgs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    m = _manifest(images, "path,label\nimgs/a.png,x\nimgs/broken.png,y\n")
    res = scan_dataset(m)
    assert res.images[1].error and res.images[0].error is None


@pytest.mark.parametrize(
    "text, row, needle",
    [
        ("", 1, "empty"),
        ("  \n\n", 1, "empty"),
        ("path,label\n", 1, "no data rows"),
        ("file,klass\nimgs/a.png,x\n", 1, "the columns are: file, klass"),
        ("image,label\nimgs/a.png,x\nimgs/missing.png,y\n", 3, "file not found"),
        ("path,label\nimgs/a.png,x\n../outside.png,y\n", 3, "escapes the root"),
        ("path,label\nimgs/../../outside.png,y\n", 2, "escapes the root"),
        ("path,label\nimgs/a.png,x\n\nimgs/a.png,y\n", 4, "already listed in row 2"),
        ("path,label\nimgs/a.png\n", 2, "has 1 fields"),
        ("path,label\nimgs/a.png,x,extra\n", 2, "has 3 fields"),
        ("path,label\n,x\n", 2, "empty path"),
        ("path,label\nimgs,x\n", 2, "not a file"),
        ("path,label,split\nimgs/a.png,x,holdout\n", 2, "unknown split"),
    ],
)
def test_malformed_manifests_name_the_row(images, text, row, needle):
    m = _manifest(images, text)
    with pytest.raises(ManifestError) as info:
        scan_dataset(m)
    msg = str(info.value)
    assert f"row {row}" in msg and needle in msg and "\n" not in msg
    assert isinstance(info.value, InspectorError)


def test_missing_named_column_lists_the_columns(images):
    m = _manifest(images, "path;label\nimgs/a.png;x\n")
    with pytest.raises(ManifestError, match=r"row 1: no column 'defect'; the columns are: path, label"):
        scan_dataset(m, label_column="defect")


def test_absolute_path_outside_the_root_is_refused(images, tmp_path_factory, write_image):
    other = write_image(tmp_path_factory.mktemp("elsewhere") / "x.png")
    m = _manifest(images, f"path,label\nimgs/a.png,x\n{other},y\n")
    with pytest.raises(ManifestError, match="row 3: absolute path .* is outside the root"):
        scan_dataset(m)


def test_symlink_leading_outside_the_root_is_refused(images, tmp_path_factory, write_image):
    other = write_image(tmp_path_factory.mktemp("elsewhere") / "x.png")
    (images / "imgs" / "link.png").symlink_to(other)
    (images / "imgs" / "inner.png").symlink_to(images / "imgs" / "a.png")
    m = _manifest(images, "path,label\nimgs/inner.png,ok\nimgs/link.png,y\n")
    with pytest.raises(ManifestError, match="row 3: .*symlink that leads outside the root"):
        scan_dataset(m)
    m = _manifest(images, "path,label\nimgs/inner.png,ok\n")
    assert scan_dataset(m).images[0].rel_path == "imgs/inner.png"


def test_binary_and_non_utf8_files_are_refused(images):
    m = images / "m.csv"
    m.write_bytes("path,label\nimgs/a.png,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ManifestError, match="row 2: not valid UTF-8"):
        scan_dataset(m)
    m.write_bytes(b"path,label\x00\x01\x02")
    with pytest.raises(ManifestError, match="NUL"):
        scan_dataset(m)


def test_utf16_excel_export(images):
    m = images / "m.txt"
    m.write_bytes("path\tlabel\nimgs/a.png\tcrack\n".encode("utf-16"))
    assert scan_dataset(m).images[0].label == "crack"


# Property: any table of (unicode path, unicode label, split) written by the csv module with any
# supported delimiter and quoting style reads back unchanged.
_name_chars = st.characters(
    blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="/\\\x00")
_file_name = st.text(_name_chars, min_size=1, max_size=12).map(str.strip).filter(
    lambda s: s not in ("", ".", "..") and not s.startswith(".")
    and len(s.encode()) < 200)
_label = st.one_of(
    st.just(""),
    st.integers(-5, 50).map(str),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=10).map(str.strip),
)
_rows = st.lists(st.tuples(_file_name, _label, st.sampled_from(["", "train", "val", "test", "Validation"])),
                 min_size=1, max_size=6, unique_by=lambda r: r[0].casefold())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, delim=st.sampled_from([",", ";", "\t", "|"]),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
       subdir=st.sampled_from(["", "sub dir/", "ü/ß/"]), header=st.sampled_from(
           [("path", "label", "split"), ("Filename", "Class", "Subset"), ("image", "target", "split")]))
def test_manifest_round_trip(tmp_path_factory, rows, delim, quoting, subdir, header):
    folder = tmp_path_factory.mktemp("rt")
    for name, _, _ in rows:
        target = folder / subdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"any bytes: the manifest reader does not decode")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delim, quoting=quoting, lineterminator="\r\n")
    writer.writerow(header)
    for name, label, split in rows:
        writer.writerow([subdir + name, label, split])
    manifest = folder / "manifest.csv"
    manifest.write_text(buf.getvalue(), encoding="utf-8", newline="")

    root, got = read_manifest(manifest)
    assert root == folder
    assert [c.rel_path for c in got] == [(subdir + n) for n, _, _ in rows]
    assert [c.label for c in got] == [lab.strip() or None for _, lab, _ in rows]
    assert [c.split for c in got] == [{"": None, "Validation": "val"}.get(s, s) for _, _, s in rows]
    assert all(os.path.isfile(root / c.rel_path) for c in got)
