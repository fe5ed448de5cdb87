// forge cancel TARGET: see scripts/control.ts.
import { runControl } from './control.ts';

runControl('cancel');
