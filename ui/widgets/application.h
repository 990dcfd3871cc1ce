// The workstation's QApplication: a dark clinical theme, and a last line of
// defence that keeps an exception thrown inside an event handler from
// crossing Qt and ending the program (it is logged and reported instead).
#pragma once

#include <QApplication>

namespace tessera::ui {

class WorkstationApplication : public QApplication {
  Q_OBJECT

 public:
  // Sets the surface format VTK needs before the application exists.
  WorkstationApplication(int& argc, char** argv);
  bool notify(QObject* receiver, QEvent* event) override;
};

// Fusion style with a dark palette: grey levels of the images read better
// against dark surroundings, as on radiology workstations.
void applyDarkTheme(QApplication& app);

}  // namespace tessera::ui
