"""`recur simulate`: months of a subscription business driven through the real commands on the sandbox clock."""
