"""Fine-tuning jobs: submit (with the rendered command shown first), follow, cancel."""
