// Where the procedures, reports and audit pages live.
import { PORTAL } from './portal-paths.js';

export const OPS_PATHS = {
  procedures: `${PORTAL}/procedures`,
  dryRun: `${PORTAL}/procedures/dry-run`,
  runProcedure: `${PORTAL}/procedures/run`,
  reports: `${PORTAL}/reports`,
  audit: `${PORTAL}/audit`,
} as const;
