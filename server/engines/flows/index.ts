/** Flows (DESIGN.md §1): velocity fields, conditional flow matching, ODE solvers, score, likelihood, toys. */
export * from './velocityField';
export * from './conditionalFlowMatching';
export * from './ode';
export * from './score';
export * from './likelihood';
export * from './train';
export * from './toy2d';
export * from './gaussianMixtureFlow';
export * from './rewardWeighted';
export * from './sampling';
export * from './adjointMatching';
