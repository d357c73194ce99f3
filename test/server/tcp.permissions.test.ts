import { overTcpWithPrincipals } from './tcp-harness.js';
import { permissionsSuite } from '../broker/semantics/permissions.js';

permissionsSuite(overTcpWithPrincipals);
