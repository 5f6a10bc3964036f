"""`tune`: the search space a config declares (search_space.py), the KerasTuner search (search.py), and its reports (reports.py)."""
