/** A small library of well-known drugs for tests that train or sample molecular priors. */
export const smallDrugLibrary = [
  'CC(=O)Oc1ccccc1C(=O)O', // aspirin
  'CC(C)Cc1ccc(cc1)C(C)C(=O)O', // ibuprofen
  'CN1C=NC2=C1C(=O)N(C(=O)N2C)C', // caffeine
  'CC(=O)Nc1ccc(O)cc1', // paracetamol
  'OC(=O)c1ccccc1O', // salicylic acid
  'c1ccc2c(c1)cccn2', // quinoline
  'CCN(CC)CC', // triethylamine
  'CCOC(=O)c1ccccc1', // ethyl benzoate
];
