"""Optimisation under topological penalties: problems, penalties, figures, the regression sweep."""
