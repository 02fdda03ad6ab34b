"""Cross-region transfer of a volunteer's records (转移接续, DESIGN.md §6)."""
