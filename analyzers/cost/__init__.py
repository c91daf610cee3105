"""The cost model: what nodes cost, how that cost is split and allocated to workloads."""
