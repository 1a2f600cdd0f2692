"""The HTTP contract of each resource, one module each: its request and response bodies, the
patterns and limits of their fields, the rules types cannot say, and the words of each refusal.
`common` holds what every resource's contract shares. The data layer (`queries/`) keeps only the
rows and parameters its statements need."""
