/** ED-PBRL (DESIGN.md §6): preference model, experimental design, estimation, simulated users. */
export * from './criteria';
export * from './design';
export * from './linalg';
export * from './mdp';
export * from './mle';
export * from './mnl';
export * from './pool';
export * from './simulation';
