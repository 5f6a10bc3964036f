"""Text handling shared by tasks: words and vocabularies (words.py), and sentences as id sequences with start and end marks (sentences.py)."""
