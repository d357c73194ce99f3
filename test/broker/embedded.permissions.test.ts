import { embeddedWithPrincipals } from './embedded-harness.js';
import { permissionsSuite } from './semantics/permissions.js';

permissionsSuite(embeddedWithPrincipals);
