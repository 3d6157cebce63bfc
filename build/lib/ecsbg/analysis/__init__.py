"""Automated analysis, operator side: the providers that take measurements (one seam each) and the runner that
drives a release's analysis runs every reconcile pass. The model and every decision are in
ecsbg.domain.analysis (pure)."""
