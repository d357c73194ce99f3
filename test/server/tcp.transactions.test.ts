import { overTcp, overTcpWithPrincipals } from './tcp-harness.js';
import {
  transactionPermissionsSuite,
  transactionsSuite,
} from '../broker/semantics/transactions.js';

transactionsSuite(overTcp);
transactionPermissionsSuite(overTcpWithPrincipals);
