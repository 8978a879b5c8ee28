"""kernel tests (a package, so test module basenames may repeat across tiers)."""
