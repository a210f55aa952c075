// The credits domain raises alerts through src/alerts (cooldown per type and subject, delivery to the
// configured channels); this module keeps the names its callers import.
import { recordAlert as record, type AlertInput } from '../alerts/store.ts';
import type { Queryable } from '../db/pool.ts';

export { openAlerts, type Alert, type AlertLevel } from '../alerts/store.ts';

export async function recordAlert(db: Queryable, alert: AlertInput): Promise<void> {
  await record(db, alert);
}
