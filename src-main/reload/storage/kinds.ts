/** The parts of a Kind definition (configuration kind-block) the storage engine applies. */
import type { KindDefinition } from '../config';
import type { DataModel } from '../wire';

export type StorageKind = Pick<
  KindDefinition,
  'id' | 'name' | 'dataModel' | 'accessControl' | 'maxCount' | 'maxSize' | 'maxNodeMultiple' | 'sipDomainRestriction'
>;

const MODELS: Readonly<Record<StorageKind['dataModel'], DataModel>> = {
  SINGLE: 'single',
  ARRAY: 'array',
  DICTIONARY: 'dictionary',
};

/** The codec's name for a configuration data model. */
export function wireDataModel(model: StorageKind['dataModel']): DataModel {
  return MODELS[model];
}
