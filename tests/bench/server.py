"""What the benchmark scripts read about the server they drive."""


def rss_mb(pid):
    """The resident set size of process `pid`, in MB (NaN if unknown)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
