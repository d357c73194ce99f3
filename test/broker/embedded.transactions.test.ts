import { embedded, embeddedWithPrincipals } from './embedded-harness.js';
import { transactionPermissionsSuite, transactionsSuite } from './semantics/transactions.js';

transactionsSuite(embedded);
transactionPermissionsSuite(embeddedWithPrincipals);
