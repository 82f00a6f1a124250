"""The billing domain: aggregates, events, value objects and policies. Pure: no I/O, no clock reads."""
