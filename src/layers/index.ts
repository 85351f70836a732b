export { LayerStore, MAX_FUNCTION_LAYERS, layerCodeBytes, denied as layerAccessDenied, type LayerStoreDeps, type PublishInput } from './layer-store.js';
export {
  layerArn, layerVersionArn, parseLayerName, parseLayerVersionArn, LAYER_VERSION_ARN, LAYER_VERSION_ARN_TEXT, type LayerRef,
} from './arns.js';
export { layerAllows, normalPrincipal, policyDocument as layerPolicyDocument, statementDocument as layerStatementDocument } from './policy.js';
export {
  GET_LAYER_VERSION, LAYER_ARCHITECTURES, type FunctionLayerRef, type LayerDocument, type LayerPolicy, type LayerStatement, type LayerVersionRecord,
} from './model.js';
