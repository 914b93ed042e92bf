-- Every freeze wrote this index and nothing ever read it: allocations are always reached through
-- their hold (the primary key), and packages are never deleted, so no foreign-key check needs it.
DROP INDEX hold_allocations_by_package;
