"""Statistics over finished runs: no torch, no models; summaries run where no model does."""
