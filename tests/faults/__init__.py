"""Fault-injection harness for the prep trigger (issue 12): the real trigger, the real stores,
the real channels against the loopback fakes, with crashes, lost responses and slow providers
injected from outside the production code. See ``harness.py``."""
