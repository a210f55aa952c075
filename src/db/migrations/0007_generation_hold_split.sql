-- Which buckets a generation's hold took its credits from ({"allowance": 1, ...}), written with the
-- hold, so settling it needs no read of the hold's transfers. Null on rows from before: those are read.
alter table generations add column hold_split jsonb;
