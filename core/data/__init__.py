"""Images in and out: safe decoding, dataset scanners, thumbnails, the synthetic demo dataset.

Qt-free. Submodules are imported directly (``from core.data.scan import scan_dataset``) so that
importing one does not pull in the others.
"""
