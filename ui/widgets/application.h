// The workstation's QApplication: a dark clinical theme, and a last line of
// defence that keeps an exception thrown inside an event handler from
// crossing Qt and ending the program (it is logged and reported instead).
#pragma once

#include <QApplication>

#include <functional>

namespace tessera::ui {

class WorkstationApplication : public QApplication {
  Q_OBJECT

 public:
  // Qt sets the C library's locale from the environment (setlocale(LC_ALL,
  // "")); numbers are then put back to the C locale (LC_NUMERIC "C") so that
  // strtod, streams and printf in every library read and write decimal
  // points under any locale (de_DE.UTF-8 reads "0,5" otherwise).
  WorkstationApplication(int& argc, char** argv);
  bool notify(QObject* receiver, QEvent* event) override;
};

// Runs `onTerminate` on the UI thread when the process receives SIGTERM
// (the signal handler only writes to a pipe that a QSocketNotifier reads).
// Installed once per process; later calls replace the callback.
void installTerminationHandler(std::function<void()> onTerminate);

// Fusion style with a dark palette: grey levels of the images read better
// against dark surroundings, as on radiology workstations.
void applyDarkTheme(QApplication& app);

}  // namespace tessera::ui
