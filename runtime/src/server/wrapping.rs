//! The shape every tower layer of the server shares, written once: a unit struct whose
//! `Layer` impl wraps a service in a struct holding it as `inner`, and a `poll_ready` that
//! asks `inner`. Each layer then writes only its `Service::call`.

/// Declares a layer (a unit struct), the service it wraps around a server's routes (holding
/// them as `inner`, beside any `field: Type = value_the_layer_gives` listed in braces) and
/// the `Layer` impl that joins them. The attributes and doc comments written on each struct
/// go on it; a field's attributes (its `cfg`) go on the field and on its value.
macro_rules! wrapping_layer {
    (
        $(#[$layer_attr:meta])*
        pub struct $layer:ident;
        $(#[$service_attr:meta])*
        pub struct $service:ident<S> $({
            $($(#[$field_attr:meta])* $field:ident: $field_ty:ty = $default:expr),* $(,)?
        })?;
    ) => {
        $(#[$layer_attr])*
        pub struct $layer;

        impl<S> tower_layer::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    $($($(#[$field_attr])* $field: $default,)*)?
                }
            }
        }

        $(#[$service_attr])*
        pub struct $service<S> {
            inner: S,
            $($($(#[$field_attr])* $field: $field_ty,)*)?
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
