import { overTcp } from './tcp-harness.js';
import { transactionsSuite } from '../broker/semantics/transactions.js';

transactionsSuite(overTcp);
