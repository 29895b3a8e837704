"""Test data shared by every test folder: synthetic inspection images written as a dataset in any
layout Inspector imports, manifests, tiny checkpoints and imported projects. `pythonpath` in
pyproject.toml puts tests/ on the path, so tests import `support.synthetic_datasets`."""
