"""Automated analysis (issue 11): templates, CEL conditions, the measurement/verdict state machine and the
analysis runs recorded in a release's status. Pure: no I/O; the providers that take measurements live in
ecsbg.analysis and are driven by ecsbg.analysis.runner."""
