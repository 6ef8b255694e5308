//! The shape every tower layer of the server shares, written once: a unit struct whose
//! `Layer` impl wraps a service in a struct holding it as `inner`, and a `poll_ready` that
//! asks `inner`. Each layer then writes only its structs and its `Service::call`.

/// `impl Layer<S> for $layer`: wraps a server's routes in `$service`, holding them as
/// `inner` beside any `field: value` listed in braces (a field's attributes, its `cfg`, go on
/// its value). The two structs are written out where they live, so their docs and the
/// public-API listing see them as they are.
macro_rules! wrapping_layer {
    ($layer:ident => $service:ident $({
        $($(#[$field_attr:meta])* $field:ident: $value:expr),* $(,)?
    })?) => {
        impl<S> tower_layer::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    $($($(#[$field_attr])* $field: $value,)*)?
                }
            }
        }
    };
}

/// `Service::poll_ready` for a service declared by [`wrapping_layer!`]: ready when `inner` is.
macro_rules! ready_when_inner_is {
    () => {
        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }
    };
}

pub(crate) use {ready_when_inner_is, wrapping_layer};
