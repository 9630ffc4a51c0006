# Include roots that make the layering a build rule. Sources include headers by their path from
# the top of the tree ("shared/resp/...", "l2/...", "sidecar/...", "l1/..."). Instead of putting
# the top of the tree on every include path (which lets any layer include any other), each
# library gets a directory of its own holding one symbolic link, to its own top-level folder,
# and exports that directory. A target therefore sees its own folder and the folders of the
# libraries it links, nothing else: shared/ cannot include l2/ or sidecar/, l2/ cannot include
# sidecar/ or l1/, and a layer that reaches upward fails to compile. tests/layering checks it.

# The include root for <folder> (a top-level folder of the tree), created at configure time.
function(tiercache_layer_root folder out)
  set(root ${CMAKE_BINARY_DIR}/layers/${folder})
  if(NOT EXISTS ${root}/${folder})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endif()
  set(${out} ${root} PARENT_SCOPE)
endfunction()

# <target> is the library of <folder>: it and whatever links it see "<folder>/...".
function(tiercache_layer target folder)
  tiercache_layer_root(${folder} root)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${root}>)
endfunction()
