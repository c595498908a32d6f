//! poem-openapi's `Type` for a scalar wire type (optionally generic, as in
//! `scalar_type!(impl<R: TextRule> Text<R>, …)`): a name, an inline schema,
//! and the value itself as its raw value (for validators).

macro_rules! scalar_type {
    (impl<$($param:ident: $bound:path),*> $ty:ty, $name:expr, $schema:expr) => {
        impl<$($param: $bound),*> ::poem_openapi::types::Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> ::std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> ::poem_openapi::registry::MetaSchemaRef {
                ::poem_openapi::registry::MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
    ($ty:ty, $name:expr, $schema:expr) => {
        $crate::http::scalar_type::scalar_type!(impl<> $ty, $name, $schema);
    };
}

pub(crate) use scalar_type;
