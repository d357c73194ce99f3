import { overTcp, overTcpWithPrincipals } from './tcp-harness.js';
import { schedulePermissionsSuite, schedulesSuite } from '../broker/semantics/schedules.js';

schedulesSuite(overTcp);
schedulePermissionsSuite(overTcpWithPrincipals);
