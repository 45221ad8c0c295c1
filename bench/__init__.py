"""Benchmarks for exec-assistant: ``python -m bench`` reproduces every figure in the README.

Each figure is a ratio against a baseline measured in the same run (machines are noisy), with
the absolute numbers beside it. Heavy work runs in subprocesses (``python -m bench.worker``,
``python -m bench.cold_probe``, ``python -m bench.fakes``) so each measurement starts from a
clean interpreter and the fakes do not share the measured process's GIL.

This package imports nothing at import time: ``cold_probe`` runs under it and must start from a
bare interpreter.
"""
