import { embedded } from './embedded-harness.js';
import { transactionsSuite } from './semantics/transactions.js';

transactionsSuite(embedded);
