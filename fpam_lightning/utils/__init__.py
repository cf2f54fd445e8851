"""What every layer shares: errors and exits, atomic files, results.json, run files, config."""
