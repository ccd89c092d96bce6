"""bench: one ``twinbench bench`` run (orchestration) and its simulation at your traffic."""
