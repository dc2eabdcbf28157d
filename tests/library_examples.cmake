# The library as a user gets it: installs this build into a fresh prefix, builds examples/ against
# it with find_package(sluice), and runs each program (each exits 0 only if what it checks holds).
# Run by CTest as: cmake -DBUILD_DIR=… -DSOURCE_DIR=… -P library_examples.cmake
set(work ${BUILD_DIR}/library-examples)
file(REMOVE_RECURSE ${work})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "failed (${result}): ${command}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${work}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${work}/build -G Ninja
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${work}/prefix)
run(${CMAKE_COMMAND} --build ${work}/build)
foreach(example fan_out custom_activity)
  run(${work}/build/${example} ${work}/data-${example})
endforeach()
file(REMOVE_RECURSE ${work})
