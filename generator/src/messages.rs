//! Messages and tonic's client and server, by running prost-build and tonic-prost-build on
//! the same descriptors (never re-implemented here). Method names and types come from the
//! model, so an RPC renamed to avoid a clash is renamed in tonic's code too.

use crate::error::Error;
use crate::load::{Descriptors, qualify};
use crate::model::Model;
use crate::options::Params;
use prost_build::{Module, Service, ServiceGenerator};
use std::collections::{BTreeMap, BTreeSet};

/// prost-build and tonic-prost-build's output for every package of the model, by module.
pub fn generate(
    descriptors: &Descriptors,
    params: &Params,
    model: &Model,
) -> Result<BTreeMap<Vec<String>, String>, Error> {
    let mut methods = BTreeMap::new();
    for package in &model.packages {
        for service in &package.services {
            for method in &service.methods {
                methods.insert(
                    (format!(".{}", service.full_name), method.proto_name.clone()),
                    (
                        method.rust_name.clone(),
                        method.request.rust_path.clone(),
                        method.response.rust_path.clone(),
                    ),
                );
            }
        }
    }
    let mut config = prost_build::Config::new();
    for path in &params.bytes {
        config.bytes([path]);
    }
    config.service_generator(Box::new(Services {
        tonic: tonic_prost_build::configure().service_generator(),
        methods,
    }));
    let mut files = descriptors.files.clone();
    files.sort_by(|a, b| a.name().cmp(b.name()));
    let requests = files
        .into_iter()
        .map(|file| (Module::from_protobuf_package_name(file.package()), file))
        .collect();
    let generated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        config.generate(requests)
    }))
    .map_err(|_| Error::msg("prost-build failed on these descriptors (it panicked)"))?
    .map_err(|err| Error::msg(format!("prost-build: {err}")))?;
    let wanted: BTreeSet<&Vec<String>> = model.packages.iter().map(|p| &p.module).collect();
    Ok(generated
        .into_iter()
        .filter_map(|(module, code)| {
            let module: Vec<String> = module.parts().map(str::to_owned).collect();
            wanted.contains(&module).then_some((module, code))
        })
        .collect())
}

/// tonic-prost-build's service generator, fed the model's names and types.
struct Services {
    tonic: Box<dyn ServiceGenerator>,
    /// (`.pkg.Service`, method) -> (Rust name, request path, response path).
    methods: BTreeMap<(String, String), (String, String, String)>,
}

impl ServiceGenerator for Services {
    fn generate(&mut self, mut service: Service, buf: &mut String) {
        let qualified = qualify(&service.package, &service.proto_name);
        for method in &mut service.methods {
            if let Some((name, request, response)) = self
                .methods
                .get(&(qualified.clone(), method.proto_name.clone()))
            {
                method.name = name.clone();
                method.input_type = request.clone();
                method.output_type = response.clone();
            }
        }
        self.tonic.generate(service, buf);
    }

    fn finalize(&mut self, buf: &mut String) {
        self.tonic.finalize(buf);
    }

    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        self.tonic.finalize_package(package, buf);
    }
}
