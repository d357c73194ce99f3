import { embedded, embeddedWithPrincipals } from './embedded-harness.js';
import { schedulePermissionsSuite, schedulesSuite } from './semantics/schedules.js';

schedulesSuite(embedded);
schedulePermissionsSuite(embeddedWithPrincipals);
