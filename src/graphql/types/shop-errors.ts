// The shop's domain errors as members of mutation result unions (write schema).
import { ProductDiscontinuedError, SkuTakenError } from '../../modules/catalog/errors.ts';
import { InsufficientStockError } from '../../modules/inventory/errors.ts';
import { MixedCurrenciesError, OrderNotCancellableError } from '../../modules/orders/errors.ts';
import { builder } from '../builder.ts';
import { ErrorInterface } from './errors.ts';

builder.objectType(SkuTakenError, {
  name: 'SkuTakenError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ sku: t.exposeString('sku') }),
});

builder.objectType(ProductDiscontinuedError, {
  name: 'ProductDiscontinuedError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ productId: t.exposeID('productId') }),
});

builder.objectType(InsufficientStockError, {
  name: 'InsufficientStockError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({
    productId: t.exposeID('productId'),
    onHand: t.exposeInt('onHand'),
    reserved: t.exposeInt('reserved'),
    requestedDelta: t.exposeInt('requestedDelta'),
  }),
});

builder.objectType(OrderNotCancellableError, {
  name: 'OrderNotCancellableError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ orderId: t.exposeID('orderId'), status: t.exposeString('status') }),
});

builder.objectType(MixedCurrenciesError, {
  name: 'MixedCurrenciesError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ currencies: t.exposeStringList('currencies') }),
});
