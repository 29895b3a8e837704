"""Prediction, review ranking, metrics and attention evidence. Qt-free; the GUI and CLI call it."""
