"""What a user can do with Inspector, once for the command line and the GUI alike.

Each module is one use case; its functions take a project (or a path) and, for long work, one
`core.progress.Reporter` for progress and cancellation. They open their own sessions (one user
action = one transaction), return plain records, never import Qt, and import torch only inside
the functions that need it, so that the GUI can import them at start-up.

Layers: app (CLI, GUI) -> usecases -> training, core; training -> core. core imports neither.

    dataset_import      import_dataset
    project_overview    open_overview, reload_overview
    labelling           set_image_label, label_one, label_many, undo_last, redo_last, image_history,
                        label_events
    prediction          register_checkpoint, check_options, predict
    label_review        review
    version_comparison  version_rows, version_metrics, compare_versions
    label_error_scan    label_scan
    head_analysis       analyse_project_heads
    label_export        export_labels
    finetune_jobs       choose_profile, render_preview, submit_finetune, refresh_job, cancel_job, resume_point,
                        resume_job, planned_epochs, job_log_tail
    job_monitor         job_progress, refresh_jobs, follow_job, job_views
    demo_project        write_demo_dataset, train_demo, prepare_demo
    thumbnail_prefill   make_thumbnails
"""
