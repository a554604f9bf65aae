"""Figures shared by the tasks (written during runs) and the report (rebuilt from records)."""
