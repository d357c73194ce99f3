import { overTcp } from './tcp-harness.js';
import { routingSuite } from '../broker/semantics/routing.js';

routingSuite(overTcp);
