"""Cross-region transfer of a volunteer's records (转移接续, interop/README.md)."""
