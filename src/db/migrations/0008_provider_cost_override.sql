-- What one request through a provider costs the platform, as an admin set it at run time (micro-USD);
-- null: each route's cost from the catalogue (SPEC §2: costs changed at run time, defaults from config).
alter table provider_settings add column cost_micro_usd bigint check (cost_micro_usd >= 0);
